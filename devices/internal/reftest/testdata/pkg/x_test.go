package pkg

import "testing"

// Rows: §1.1 row "alpha"; §1.1 row "beta";
func TestA(t *testing.T) {}

func TestB(t *testing.T) {
	// §1.2 row "gamma"
}

// §9.9 row "stray"
func TestC(t *testing.T) {}
