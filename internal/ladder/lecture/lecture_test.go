package lecture

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/ladder"
	"tcplab/labs/4-connection"
)

var update = flag.Bool("update", false, "rewrite the golden files from the reference")

// TestGoldenDiagrams pins the text and SVG diagram of every lecture
// scenario. A change to the labs that changes an exchange shows up here as
// a diff of the picture; if it is intended, run
// go test ./internal/ladder/lecture -update and regenerate the handout
// (go generate ./labs/4-connection).
func TestGoldenDiagrams(t *testing.T) {
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			rec := s.Run().Recording()
			golden(t, s.Name+".txt", []byte(ladder.Text(rec, 80)))
			golden(t, s.Name+".svg", ladder.SVG(rec))
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./internal/ladder/lecture -update")
	require.Equal(t, string(want), string(got), "%s differs from its golden file", name)
}

// TestScenariosEndAsTheLectureSays checks the outcome of each exchange.
func TestScenariosEndAsTheLectureSays(t *testing.T) {
	states := func(n *Net) [2]connection.State { return [2]connection.State{n.Conn[0].State(), n.Conn[1].State()} }
	est := [2]connection.State{connection.ESTABLISHED, connection.ESTABLISHED}
	closed := [2]connection.State{connection.CLOSED, connection.CLOSED}
	want := map[string][2]connection.State{
		"three-way-handshake": est,
		"simultaneous-open":   est,
		"fin-with-data":       {connection.FIN_WAIT_2, connection.CLOSE_WAIT},
		"sending-after-fin":   closed,
		"closing-with-linger": closed,
		"two-generals":        closed,
	}
	sends := map[string]int{"three-way-handshake": 3, "simultaneous-open": 4}
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			n := s.Run()
			require.Equal(t, want[s.Name], states(n))
			require.Zero(t, n.InFlight())
			if w, ok := sends[s.Name]; ok {
				got := 0
				for _, e := range n.Recording().Events {
					if e.Kind == ladder.Send {
						got++
					}
				}
				require.Equal(t, w, got, "messages exchanged")
			}
		})
	}
}

func TestSVGsParseAsXML(t *testing.T) {
	for _, s := range Scenarios {
		d := xml.NewDecoder(bytes.NewReader(ladder.SVG(s.Run().Recording())))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, s.Name)
		}
	}
}

// TestChromiumDrawsTheSVG renders one diagram in headless Chromium and
// checks the screenshot is not blank: the SVG is something a browser draws.
func TestChromiumDrawsTheSVG(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
	}
	dir := t.TempDir()
	svg := filepath.Join(dir, "simultaneous-open.svg")
	require.NoError(t, os.WriteFile(svg, ladder.SVG(Scenarios[1].Run().Recording()), 0o644))
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=760,600",
		"--screenshot="+shot, "file://"+svg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("chromium could not run here: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	require.NoError(t, err, "no screenshot: %s", out)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	// Count pixels that are not (near) white: lines and text.
	dark := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r+g+b < 3*0xC000 {
				dark++
			}
		}
	}
	require.Greater(t, dark, 2000, "the screenshot is blank")
}
