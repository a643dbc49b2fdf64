# tests/bad-input: rules go here
