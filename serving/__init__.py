"""BentoML serving: the fused predictor and the platform's HTTP API."""
