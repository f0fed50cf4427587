"""The GPT, its trainer, sampler, checkpoints and run directories; no UI code lives here."""
