package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/apperr"
)

// decodeJSON reads the request body into v strictly: the body must be one JSON object
// of valid UTF-8 sent as application/json, with no unknown fields and no trailing data,
// and no string in it may hold a NUL character (see checkJSONText). Each failure is a
// 4xx naming the field where one is known.
func decodeJSON(c echo.Context, v any) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return &apperr.Error{Kind: apperr.KindUnsupportedMedia, Code: apperr.CodeUnsupportedMediaType, Message: "send the body as application/json"}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he // the body limit
		}
		if errors.Is(err, errTransferTooSlow) {
			return err
		}
		return apperr.Malformed("the request body could not be read")
	}
	return decodeBody(body, v)
}

// decodeBody is decodeJSON after the transport checks; it is what the fuzz target runs.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.Malformed("the request body is empty; expected a JSON object")
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Malformed("unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax):
		return apperr.Malformed(fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.Malformed("expected a JSON object")
		}
		return apperr.Malformed("a field has the wrong type",
			apperr.FieldError{Field: typ.Field, Message: "expected " + jsonTypeName(typ.Type.Kind().String())})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Malformed("the JSON ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Malformed("unknown field", apperr.FieldError{Field: field, Message: "unknown field"})
	}
	return apperr.Malformed("malformed JSON")
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return kind
}

// created answers 201 with v as JSON and the address of what was created.
func created(c echo.Context, location string, v any) error {
	c.Response().Header().Set(echo.HeaderLocation, location)
	return c.JSON(http.StatusCreated, v)
}

// tenantPath is the address of a resource of the request's tenant.
func tenantPath(c echo.Context, parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/api/v1/tenants/" + url.PathEscape(c.Param("tenant")) + "/" + strings.Join(parts, "/")
}

// paged answers one page of a list, with a Link header to the next page when there is
// one (the same address with the next cursor; the other parameters kept).
func paged[T any](c echo.Context, items []T, next string) error {
	if next != "" {
		u := *c.Request().URL
		q := u.Query()
		q.Set("cursor", next)
		u.RawQuery = q.Encode()
		c.Response().Header().Set("Link", "<"+u.Path+"?"+u.RawQuery+`>; rel="next"`)
	}
	return c.JSON(http.StatusOK, listOf(items, next))
}

// list is the shape of every list response.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func listOf[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}
