"""The task registry and what each task kind needs: features, scoring, answers."""
