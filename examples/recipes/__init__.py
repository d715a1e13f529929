"""Recipes: a preset's generator trained against another discriminator, or with other settings.

Each file is one experiment that is not a model of the literature: its docstring gives the
finding and the command, and running it trains through examples/mnist.py (the same flags, the
same outputs, --resume and all). Its checkpoint records the recipe's name, so that G is sampled
and measured as the preset's G, and D is rebuilt from the recipe where it is needed.
"""
