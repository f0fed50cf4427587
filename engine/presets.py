"""Named recipes: model shape and training schedule, applied under the user's own settings."""

PRESETS: dict[str, dict[str, dict[str, object]]] = {
    # The C# tutorial this project grew from: one block, constant learning rate, 500 steps.
    # On the 65-character tiny-shakespeare vocabulary it has exactly 223,041 parameters.
    "tutorial": {
        "model": {"n_layer": 1, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0},
        "train": {
            "steps": 500,
            "batch_size": 16,
            "lr": 1e-3,
            "min_lr": 1e-3,
            "warmup_steps": 0,
            "eval_interval": 100,
            "checkpoint_interval": 100,
        },
    },
    # nanoGPT's recipe for shakespeare_char on a CPU (its README: val loss 1.88 at 2000 steps).
    "small": {
        "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "dropout": 0.0},
        "train": {
            "steps": 2000,
            "batch_size": 12,
            "lr": 1e-3,
            "min_lr": 1e-4,
            "warmup_steps": 100,
            "eval_interval": 250,
            "checkpoint_interval": 250,
        },
    },
    # nanoGPT's "baby GPT" for a GPU: 10.7M parameters, dropout against overfitting.
    "baby": {
        "model": {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "dropout": 0.2},
        "train": {
            "steps": 5000,
            "batch_size": 64,
            "lr": 1e-3,
            "min_lr": 1e-4,
            "warmup_steps": 100,
            "eval_interval": 250,
            "checkpoint_interval": 250,
        },
    },
}

# Measured on two CPU cores: `small` writes speaker lines and verse-shaped text in about two
# and a half minutes (README, "Benchmarks"); `tutorial` is faster but still mostly noise.
DEFAULT_PRESET = "small"
