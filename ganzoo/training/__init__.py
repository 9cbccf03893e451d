"""Training: the adversarial loop, losses, EMA, checkpoints and run directories."""
