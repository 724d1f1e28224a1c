"""Text generation tasks whose prompts are shared by prompt tuning and fine tuning."""
