"""The book's model zoo: one readable file per model, each with a small config dataclass.

Every model runs on CUDA, Apple MPS and the CPU, and under bfloat16 autocast. Import the one
you need, e.g. ``from kbook.models.gpt import GPT, GPTConfig``.
"""
