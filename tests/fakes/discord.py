"""Fake of the Discord REST API v10, served by aiohttp on loopback, enforcing the documented limits."""
