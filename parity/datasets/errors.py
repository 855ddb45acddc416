"""The one exception the data layer raises."""


class DataError(Exception):
    """A data set is missing, damaged or inconsistent; the message names the path and the fix."""
