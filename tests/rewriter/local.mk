# tests/rewriter: rules go here
