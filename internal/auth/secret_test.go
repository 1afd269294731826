package auth

import (
	"strings"
	"testing"
)

// The dummy hash unknown client ids are checked against has the real
// costs (so a miss takes as long as a wrong secret) and matches nothing,
// and making it runs no argon2 (issue 22: 19 MiB at every start).
func TestUnmatchableHash(t *testing.T) {
	phc := unmatchableHash(DefaultArgon2)
	real, err := HashSecret("x", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(strings.Split(phc, "$")[:4], "$") != strings.Join(strings.Split(real, "$")[:4], "$") {
		t.Errorf("costs differ: %s vs %s", phc, real)
	}
	for _, secret := range []string{"", "dummy", "x"} {
		if ok, err := VerifySecret(phc, secret); ok || err != nil {
			t.Errorf("VerifySecret(%q) = %v, %v", secret, ok, err)
		}
	}
}
