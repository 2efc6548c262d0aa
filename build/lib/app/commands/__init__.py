"""CLI subcommands: each module defines `register(subparsers)`; app.cli discovers them all."""
