// Package frontend holds the web UI: a TypeScript single-page app built with Vite into
// dist/, which this package embeds into the binary. Without a build (a plain `go build`)
// it serves a placeholder page that says how to build the UI.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

//go:embed placeholder.html
var placeholder []byte

// Assets returns the built UI (index.html at its root), or nil when the binary was built
// without it.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}

// Placeholder is the page served at / by a binary built without the UI.
func Placeholder() []byte { return placeholder }
