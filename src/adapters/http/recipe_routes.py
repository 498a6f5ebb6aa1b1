"""HTTP endpoints of recipes (issue 6; DESIGN §4): the stored recipes (CRUD), the shipped
examples, running a recipe, and following or steering its runs.

Bodies are the recipe's plain shape (``domain.recipe``), validated by the domain; the JSON
returned is in ``adapters.http.recipe_json``. Volumes in ml, flow rates in ml/min, times
in s.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.http.recipe_json import recipe_json, run_json
from adapters.http.serialize import load_object, parse_limit, read_body
from application.execute_recipe import ExecuteRecipe
from application.recipe_library import RecipeLibrary
from application.steer_recipe_run import Action, SteerRecipeRun

DEFAULT_RUNS = 50
MAX_RUNS = 1000  # a bound on ?limit=, so a huge number never reaches the run log's query


class RecipeEndpoints:
    """The recipe handlers; each runs its use case in the thread pool. Errors: 400 for a
    body that is not a JSON object, 422 ``invalid_recipe`` with ``field``, 404
    ``unknown_recipe``, 409 ``recipe_exists`` / ``recipe_run_conflict`` / ``pump_busy``."""

    def __init__(
        self, library: RecipeLibrary, execute: ExecuteRecipe, steer: SteerRecipeRun
    ) -> None:
        self._library = library
        self._execute = execute
        self._steer = steer

    async def all_recipes(self, request: Request) -> Response:
        """200 ``{"recipes": [recipe, ...]}`` by name; recipe as ``recipe_json``."""
        recipes = await run_in_threadpool(self._library.all)
        return JSONResponse({"recipes": [recipe_json(r) for r in recipes]})

    async def create(self, request: Request) -> Response:
        """Body: the plain recipe shape (``id`` optional: one is generated) → 201 the
        recipe; 409 ``recipe_exists`` when the id is taken (PUT replaces)."""
        body = load_object(await read_body(request))
        recipe = await run_in_threadpool(self._library.create, body)
        return JSONResponse(recipe_json(recipe), status_code=201)

    async def get(self, request: Request) -> Response:
        """200 the recipe; 404 ``unknown_recipe``."""
        recipe = await run_in_threadpool(self._library.get, _recipe_id(request))
        return JSONResponse(recipe_json(recipe))

    async def replace(self, request: Request) -> Response:
        """Body: the plain recipe shape (the path's id wins over the body's) → 200 the
        recipe; runs already started keep the recipe they started with."""
        body = load_object(await read_body(request))
        recipe = await run_in_threadpool(self._library.replace, _recipe_id(request), body)
        return JSONResponse(recipe_json(recipe))

    async def delete(self, request: Request) -> Response:
        """204, no body; 404 ``unknown_recipe``."""
        await run_in_threadpool(self._library.delete, _recipe_id(request))
        return Response(status_code=204)

    async def execute(self, request: Request) -> Response:
        """Run a stored recipe (body empty or ``{}``) → 202 ``{"runId", "recipeId",
        "recipeName", "steps": count, "estimatedDuration_sec": s}`` once its first step
        moves; follow it at GET /api/recipe-runs/{runId}. 409 ``pump_busy`` while a dose or
        run goes on; the dose refusals (limits, calibration, e-stop) as for a dose."""
        body = await read_body(request)
        if body.strip():
            load_object(body)  # a body is optional, but garbage is still a 400
        run_id = await run_in_threadpool(self._execute.execute, _recipe_id(request), "http")
        # the recipe as the run took it, not as the book holds it by now
        recipe = (await run_in_threadpool(self._steer.get, run_id)).recipe
        return JSONResponse(
            {
                "runId": run_id,
                "recipeId": recipe.recipe_id,
                "recipeName": recipe.name,
                "steps": len(recipe.steps),
                "estimatedDuration_sec": round(recipe.estimated_duration_s, 1),
            },
            status_code=202,
        )

    async def runs(self, request: Request) -> Response:
        """Runs newest first, ``?limit=`` (positive integer, default 50, at most 1000) →
        200 ``{"runs": [run, ...]}``; run as ``run_json``."""
        limit = parse_limit(request.query_params.get("limit")) or DEFAULT_RUNS
        records = await run_in_threadpool(self._steer.recent, min(limit, MAX_RUNS))
        return JSONResponse({"runs": [run_json(r) for r in records]})

    async def run(self, request: Request) -> Response:
        """200 the run (live or recorded); 404 ``unknown_recipe``."""
        record = await run_in_threadpool(self._steer.get, _run_id(request))
        return JSONResponse(run_json(record))

    async def pause(self, request: Request) -> Response:
        """Hold the live run (a dosing step is feed-held) → 200 the run."""
        return await self._steered(request, "pause")

    async def resume(self, request: Request) -> Response:
        """Go on where the run was paused → 200 the run; 409 while the e-stop is latched."""
        return await self._steered(request, "resume")

    async def abort(self, request: Request) -> Response:
        """End the live run (a dosing step is halted and journaled as stopped) → 200 the
        run."""
        return await self._steered(request, "abort")

    async def examples(self, request: Request) -> Response:
        """200 ``{"examples": [recipe, ...]}``: the recipes shipped with the daemon."""
        recipes = await run_in_threadpool(self._library.examples)
        return JSONResponse({"examples": [recipe_json(r) for r in recipes]})

    async def load_example(self, request: Request) -> Response:
        """Store a shipped example under its own id → 201 the recipe; 404
        ``unknown_recipe``, 409 ``recipe_exists``, 422 when it doses a pump this device
        does not have."""
        recipe = await run_in_threadpool(self._library.load_example, _recipe_id(request))
        return JSONResponse(recipe_json(recipe), status_code=201)

    async def _steered(self, request: Request, action: Action) -> Response:
        """Any body is ignored. 404 ``unknown_recipe`` (not the live run), 409
        ``recipe_run_conflict`` (not in a state for that)."""
        record = await run_in_threadpool(self._steer.execute, _run_id(request), action)
        return JSONResponse(run_json(record))


def recipe_routes(endpoints: RecipeEndpoints) -> list[Route]:
    """/api/recipes (GET, POST), /api/recipes/{id} (GET, PUT, DELETE),
    /api/recipe/{id}/execute (POST), /api/recipe-runs (GET), /api/recipe-runs/{id} (GET),
    /api/recipe-runs/{id}/pause|resume|abort (POST), /api/recipe-examples (GET),
    /api/recipe-examples/{id}/load (POST)."""
    recipe = "/api/recipes/{recipe_id}"
    run = "/api/recipe-runs/{run_id}"
    return [
        Route("/api/recipes", endpoints.all_recipes, methods=["GET"]),
        Route("/api/recipes", endpoints.create, methods=["POST"]),
        Route(recipe, endpoints.get, methods=["GET"]),
        Route(recipe, endpoints.replace, methods=["PUT"]),
        Route(recipe, endpoints.delete, methods=["DELETE"]),
        Route("/api/recipe/{recipe_id}/execute", endpoints.execute, methods=["POST"]),
        Route("/api/recipe-runs", endpoints.runs, methods=["GET"]),
        Route(run, endpoints.run, methods=["GET"]),
        Route(f"{run}/pause", endpoints.pause, methods=["POST"]),
        Route(f"{run}/resume", endpoints.resume, methods=["POST"]),
        Route(f"{run}/abort", endpoints.abort, methods=["POST"]),
        Route("/api/recipe-examples", endpoints.examples, methods=["GET"]),
        Route("/api/recipe-examples/{recipe_id}/load", endpoints.load_example, methods=["POST"]),
    ]


def _recipe_id(request: Request) -> str:
    recipe_id: str = request.path_params["recipe_id"]
    return recipe_id


def _run_id(request: Request) -> str:
    run_id: str = request.path_params["run_id"]
    return run_id
