"""Models: training (out-of-time, monotone LightGBM, chosen calibration), baselines, validation report, registry."""
