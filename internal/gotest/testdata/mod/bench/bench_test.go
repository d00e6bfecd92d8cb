package bench

import "testing"

func TestOK(t *testing.T) {}

func BenchmarkSpeed(b *testing.B) {
	for _, n := range []int{10, 4096} {
		b.Run("pop="+string(rune('0'+n%10)), func(b *testing.B) {
			for b.Loop() {
			}
			b.ReportMetric(1.5, "Gbit/s")
		})
	}
}
