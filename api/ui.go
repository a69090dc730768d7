package api

import (
	"bytes"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The web UI: files of the built single-page app, with index.html for the app's own
// routes. Hashed assets (under /assets/) are cached for a year and never fall back to
// index.html (a missing script must be a 404, not a page); index.html is revalidated
// on every load, so a new release is picked up at once. Files precompressed at build
// time (.br, .gz) are sent to browsers that accept them.

// uiReserved are the paths the UI never answers, even when nothing else does.
var uiReserved = []string{"/api/", "/healthz", "/readyz", "/metrics"}

func (s *Server) uiRoutes() {
	if s.opts.UI == nil && s.opts.UIPlaceholder == nil {
		return
	}
	s.echo.GET("/*", s.serveUI)
	s.echo.HEAD("/*", s.serveUI)
}

func (s *Server) serveUI(c echo.Context) error {
	p := c.Request().URL.Path
	for _, r := range uiReserved {
		r = strings.TrimSuffix(r, "/")
		if p == r || strings.HasPrefix(p, r+"/") {
			return echo.ErrNotFound
		}
	}
	if s.opts.UI == nil {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.HTMLBlob(http.StatusOK, s.opts.UIPlaceholder)
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "index.html"
	}
	if info, err := fs.Stat(s.opts.UI, name); err == nil && !info.IsDir() {
		return s.uiFile(c, name)
	}
	// A client route (/cases/…) gets the app; a missing file does not.
	if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
		return echo.ErrNotFound
	}
	return s.uiFile(c, "index.html")
}

// uiFile sends one file of the UI, precompressed when the browser takes it.
func (s *Server) uiFile(c echo.Context, name string) error {
	h := c.Response().Header()
	if strings.HasPrefix(name, "assets/") {
		h.Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		h.Set(echo.HeaderCacheControl, "no-cache")
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set(echo.HeaderContentType, ctype)
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	accept := c.Request().Header.Get(echo.HeaderAcceptEncoding)
	for _, enc := range []struct{ token, ext string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if !acceptsEncoding(accept, enc.token) {
			continue
		}
		if b, err := fs.ReadFile(s.opts.UI, name+enc.ext); err == nil {
			h.Set(echo.HeaderContentEncoding, enc.token)
			http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(b))
			return nil
		}
	}
	b, err := fs.ReadFile(s.opts.UI, name)
	if err != nil {
		return echo.ErrNotFound
	}
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(b))
	return nil
}

// acceptsEncoding reports whether an Accept-Encoding header allows token (q > 0).
func acceptsEncoding(header, token string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
