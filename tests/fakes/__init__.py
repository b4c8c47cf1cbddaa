"""Local HTTP fakes of Discord and Gemini that enforce the documented limits."""
