"""The one exception a photo's loader raises for a photo that cannot train a colourizer (its own module, so the
pipeline and the disk store both use it without importing each other)."""


class UnusableImage(Exception):
    """An image that cannot train a colourizer; the message is the reason shown to the user."""
