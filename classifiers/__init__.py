"""Detection only: text and image in, Verdicts out. Imports nothing from `bot`."""
