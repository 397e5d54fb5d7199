"""The domain's repositories (domain/repositories.py), one module per aggregate. All statements are
parameterised; the only interpolated text is module constants (column lists, generated rule encodings)."""
