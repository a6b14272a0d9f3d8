"""Model code for the platform: plain Python in scikit-learn style, no orchestrator imports."""
