"""Fake of the Gemini REST API (generateContent), served by aiohttp on loopback."""
