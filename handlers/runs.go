package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/layerlab/layerlab/domain"
)

// runRequest is the body of POST /api/runs.
type runRequest struct {
	Variants []buildRequestNamed `json:"variants"`
	Scenario struct {
		Changes []domain.Change `json:"changes"`
	} `json:"scenario"`
}

type buildRequestNamed struct {
	Name string `json:"name"`
	buildRequest
}

func (s *Server) runCreate(c echo.Context) error {
	limits := s.Runner.Limits()
	body := http.MaxBytesReader(nil, c.Request().Body, 8*limits.MaxContextBytes+1<<20)
	var req runRequest
	if err := decodeJSON(body, &req, "a run request"); err != nil {
		return err
	}

	spec := domain.RunSpec{Changes: req.Scenario.Changes}
	for _, v := range req.Variants {
		spec.Variants = append(spec.Variants, domain.VariantSpec{Name: v.Name, Spec: v.spec()})
	}
	r, err := s.Runs.Submit(spec)
	if err != nil {
		return err
	}

	url := "/api/runs/" + r.ID
	return c.JSON(http.StatusAccepted, buildCreated{ID: r.ID, Events: url + "/events", URL: url})
}

func (s *Server) runGet(c echo.Context) error {
	r, ok := s.Runs.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no run with that id")
	}
	return c.JSON(http.StatusOK, r.State())
}

func (s *Server) runEvents(c echo.Context) error {
	if err := checkUpgrade(c); err != nil {
		return err
	}
	r, ok := s.Runs.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no run with that id")
	}
	return s.serveEvents(c, r.ID, r.Events)
}
