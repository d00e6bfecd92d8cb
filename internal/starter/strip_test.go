//lab:solution-only

package starter

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestStrip(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		want    string // "" with dropped: the file goes
		dropped bool
	}{
		{
			name: "a whole body becomes a TODO and zero results",
			src: `package p

import "strings"

type T struct{ a int }
type N uint32
type S string

func F(s string) (int, *T, T, N, S, []byte, error, bool, [2]int) {
	//lab:solution begin
	return strings.Count(s, "x"), nil, T{}, 1, "", nil, nil, true, [2]int{}
	//lab:solution end
}
`,
			want: `package p

type T struct{ a int }
type N uint32
type S string

func F(s string) (int, *T, T, N, S, []byte, error, bool, [2]int) {
	// TODO: your code here.
	return 0, nil, T{}, 0, "", nil, nil, false, [2]int{}
}
`,
		},
		{
			name: "a region before more code keeps that code and adds no return",
			src: `package p

type C struct{ linger bool }

func New() *C {
	c := &C{}
	//lab:solution begin
	c.linger = true
	//lab:solution end
	return c
}
`,
			want: `package p

type C struct{ linger bool }

func New() *C {
	c := &C{}
	// TODO: your code here.
	return c
}
`,
		},
		{
			name: "struct fields, literal fields and helpers leave hints",
			src: `package p

type S struct {
	a int
	//lab:solution begin
	b int
	//lab:solution end
}

//lab:solution begin

func helper() int { return 1 }

//lab:solution end

func New(a int) *S {
	return &S{
		a: a,
		//lab:solution begin
		b: helper(),
		//lab:solution end
	}
}

//lab:solution begin

func other() {}

//lab:solution end
`,
			want: `package p

type S struct {
	a int
	// TODO: add the fields your solution needs.
}

// TODO: add helper types and functions here, if you need them.

func New(a int) *S {
	return &S{
		a: a,
		// TODO: set the fields you added, if they need it.
	}
}
`,
		},
		{
			name: "a local only the region used is kept used, and a hint replaces the default",
			src: `package p

func F(xs []int) int {
	n := len(xs)
	//lab:solution begin keep a running total
	return n * 2
	//lab:solution end
}
`,
			want: `package p

func F(xs []int) int {
	n := len(xs)
	// TODO: keep a running total
	_ = n
	return 0
}
`,
		},
		{
			name: "named results return bare",
			src: `package p

func F() (n int, err error) {
	//lab:solution begin
	n = 1
	return
	//lab:solution end
}
`,
			want: `package p

func F() (n int, err error) {
	// TODO: your code here.
	return
}
`,
		},
		{
			name:    "a solution-only file is dropped",
			src:     "//lab:solution-only\n\npackage p\n",
			dropped: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Strip("p.go", []byte(c.src), nil)
			require.NoError(t, err)
			require.Equal(t, c.dropped, f.Dropped)
			if c.dropped {
				return
			}
			if d := cmp.Diff(c.want, string(f.Src)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestStripRejectsBadMarkers(t *testing.T) {
	for _, src := range []string{
		"package p\n//lab:solution begin\n",
		"package p\n//lab:solution end\n",
		"package p\n//lab:solution begin\n//lab:solution begin\n//lab:solution end\n",
	} {
		_, err := Strip("p.go", []byte(src), nil)
		require.Error(t, err, "%q", src)
		require.True(t, strings.Contains(err.Error(), "p.go:"), "the error names the place: %v", err)
	}
}
