package api

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/auth"
)

// loginLimited wraps the routes that check a password (login, password change): their
// answers carry the login limits as RateLimit-Policy and what is left of them as
// RateLimit (draft-ietf-httpapi-ratelimit-headers), refusals included.
func loginLimited(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		perAccount, perAddress, window := auth.LoginPolicy()
		h := c.Response().Header()
		h.Set("RateLimit-Policy", fmt.Sprintf(`"account";q=%d;w=%d, "address";q=%d;w=%d`, perAccount, window, perAddress, window))
		ctx, q := auth.TrackLoginQuota(c.Request().Context())
		c.SetRequest(c.Request().WithContext(ctx))
		c.Response().Before(func() {
			if !q.Counted() {
				return
			}
			h.Set("RateLimit", fmt.Sprintf(`"account";r=%d;t=%d, "address";r=%d;t=%d`,
				q.AccountRemaining, q.AccountReset, q.AddressRemaining, q.AddressReset))
		})
		return next(c)
	}
}
