# tests/fuzz: rules go here
