"""Developer tools that never ship in a function package."""
