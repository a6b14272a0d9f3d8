"""Candidate product recommenders behind one interface (evaluated and chosen in ml.recommend).

Every candidate learns from the same weighted customer x product matrix (purchases, add-to-carts
and views; tifu_knn from time-decayed purchase counts) and ranks the whole catalogue for each known customer; customers without history, and
known customers with fewer positive-scored products than asked for, get the most-bought products.
The shared part (matrices, ranking, fallback) is `Recommender` in ml/recommenders/base.py; the
candidates, their registry `CANDIDATES` and `build_recommender` are in candidates.py.

    model = build_recommender(name).fit(interactions)
    model.recommend(customer_ids, n=10)
"""

from ml.recommenders.base import (
    ALS,
    EASE,
    ITEM_KNN,
    POPULARITY,
    REPEAT,
    TIFU_KNN,
    CatalogueTooLargeError,
    Recommender,
)
from ml.recommenders.candidates import (
    CANDIDATES,
    ALSRecommender,
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RepeatRecommender,
    TIFUKNNRecommender,
    build_recommender,
)

__all__ = [
    "ALS",
    "CANDIDATES",
    "EASE",
    "ITEM_KNN",
    "POPULARITY",
    "REPEAT",
    "TIFU_KNN",
    "ALSRecommender",
    "CatalogueTooLargeError",
    "EASERecommender",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "Recommender",
    "RepeatRecommender",
    "TIFUKNNRecommender",
    "build_recommender",
]
