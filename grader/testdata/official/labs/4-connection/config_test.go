package connection

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNewFillsInDefaults: a Config field left at zero (or, for the signed
// ones, negative) takes the course's default; one that is set is kept.
// (Kills gremlins' CONDITIONALS_BOUNDARY mutants of New's checks, which
// would keep a zero MaxPayloadSize or InitialRTO.)
func TestNewFillsInDefaults(t *testing.T) {
	def := DefaultConfig()
	cases := []struct {
		name string
		cfg  Config
		want Config
	}{
		{"zero fields take the defaults", Config{ISN: 5},
			Config{Capacity: def.Capacity, MaxPayloadSize: def.MaxPayloadSize, InitialRTO: def.InitialRTO,
				MaxRetransmissions: def.MaxRetransmissions, ISN: 5}},
		{"negative payload size and RTO take the defaults", Config{Capacity: 10, MaxPayloadSize: -1, InitialRTO: -1, MaxRetransmissions: 2, ISN: 6},
			Config{Capacity: 10, MaxPayloadSize: def.MaxPayloadSize, InitialRTO: def.InitialRTO, MaxRetransmissions: 2, ISN: 6}},
		{"set fields are kept", Config{Capacity: 1, MaxPayloadSize: 1, InitialRTO: 1, MaxRetransmissions: 1, ISN: 7},
			Config{Capacity: 1, MaxPayloadSize: 1, InitialRTO: 1, MaxRetransmissions: 1, ISN: 7}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, New(tc.cfg).Config()); d != "" {
				t.Errorf("New(%+v).Config() (-want +got)\n%s", tc.cfg, d)
			}
		})
	}
}
