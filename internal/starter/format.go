//lab:solution-only

package starter

import (
	"bytes"
	"go/ast"
	"go/printer"
	"go/token"
)

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, token.NewFileSet(), e)
	return b.String()
}
