"""Network policy shared by every fetcher: proxy, address guard, limits."""
