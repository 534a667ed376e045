"""From-scratch implementations that the math chapters (Part 4) derive and check.

One module per chapter topic; import the one you need, e.g. ``from kbook.scratch import optim``.
"""
