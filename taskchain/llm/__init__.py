"""Model executors over OpenAI-compatible chat APIs: settings and a lean standard-library client."""
