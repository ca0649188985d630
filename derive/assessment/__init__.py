"""Answer sheets, grading with error carried forward, quizzes for learning platforms."""
