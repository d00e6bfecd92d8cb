package connection

// The handout's ladder diagrams are drawn from real runs of this package by
// framework code (cmd/ladders), so they cannot drift from the code.
//go:generate go run ../../cmd/ladders -dir diagrams -readme README.md
