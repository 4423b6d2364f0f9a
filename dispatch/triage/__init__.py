"""What a demand is: the classifier that suggests request type, category, urgency and police
matter, the word segmenter, and the knowledge base operators search during a call."""
