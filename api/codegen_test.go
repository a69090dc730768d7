package api

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// oapiCodegen is the generator integrators are expected to use, at a pinned version.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// TestGeneratedClientCompiles generates a typed Go client from the published document
// with oapi-codegen, in a module of its own, and compiles it without edits. It needs the
// Go module proxy (or a warm module cache), so it runs when UNIONPORTAL_TEST_CODEGEN=1, as
// `make test` sets it.
func TestGeneratedClientCompiles(t *testing.T) {
	if os.Getenv("UNIONPORTAL_TEST_CODEGEN") != "1" {
		t.Skip("set UNIONPORTAL_TEST_CODEGEN=1 to generate and compile a client (make test does)")
	}
	doc, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("openapi.json", string(doc))
	write("go.mod", "module example.com/unionportalclient\n\ngo 1.24\n")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	run("run", oapiCodegen, "-generate", "types,client", "-package", "unionportalclient", "-o", "client.go", "openapi.json")
	run("mod", "tidy")
	run("build", "./...")
	run("vet", "./...")
}
