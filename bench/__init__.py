"""Load generators that print figures; never run as tests."""
