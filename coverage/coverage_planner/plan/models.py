r"""Where to open new sites: LSCP, MCLP, p-median and p-center on the walk-distance matrix.

Each location problem is an object (as in spopt), with its model in
mathematical form in its docstring:

========== ==================================================================
`LSCP`     fewest new sites covering every coverable place (or a share)
`MCLP`     k new sites maximising the covered weight
`PMedian`  k new sites minimising the weighted walk (penalty when out of reach)
`PCenter`  k new sites minimising the worst walk
========== ==================================================================

Build one from a sparse sites × demand matrix (``MCLP(covers, weights,
n_existing, k)``; existing sites are the first rows), from an `AccessMatrix`
(``MCLP.from_access(matrix, n_existing=3, k=5)``) or from a dense
demand × sites cost matrix laid out as spopt lays it out
(``MCLP.from_cost_matrix(cost, service_radius=1200, k=5)``). Then::

    solution = problem.solve("exact", time_limit=30)   # or "greedy"
    solution.chosen, solution.objective, solution.bound, solution.gap, solution.status

`Solution` lists the new sites as candidate positions (``chosen``, 0 = first
candidate), as matrix rows and ids (``selected``, ``selected_ids``), the
objective computed from the data, the best proven bound, the gap
``|bound − objective| / |objective|``, status (``"optimal"``, ``"time_limit"``,
``"gap_limit"``, ``"heuristic"``) and times. The problem keeps the last one
as ``.solution`` and shows it through its own attributes
(``problem.objective`` …); ``problem.ranking()`` orders the new sites by
greedy marginal gain.

Common rules
------------
* Existing sites are always open (fixed to 1) and count toward coverage.
* Demand weights: any non-negative numbers (default 1 per place).
* **Exact** is a MILP built straight from the sparse matrix and solved by
  HiGHS through its own Python package, `highspy`, which takes the CSR
  arrays as they are (one ``passModel`` call) and reports HiGHS's dual bound
  and gap. Through `scipy.optimize.milp` (HiGHS 1.12) the same solves took
  0.5–1 ms more each on small programs, and importing `scipy.optimize` added
  0.1–0.25 s to every start. Before HiGHS sees
  it the model is reduced with sparse algebra: places already covered or
  uncoverable drop out, identical places merge (weights summed), candidates
  whose coverage another candidate's contains are dropped, and (LSCP) a place
  whose covering set contains another's is implied by it. The LP relaxation
  is solved first; when it is integral it is optimal. HiGHS's own presolve
  is off: on these 0/1 matrices it costs more than the whole solve.
* **Ties**: an exact answer is put in canonical form: from the highest
  candidate position down, a new site is dropped when that does not worsen
  the objective, else moved to the lowest free position below it that keeps
  the objective (within 1e-9 relative), until a pass changes nothing. So
  fewer sites and lower positions win among the answers these moves reach;
  candidates with identical coverage resolve to the lowest position, and
  the same input always gives the same answer (HiGHS runs on one thread
  with a fixed seed). The form starts from HiGHS's answer, so another HiGHS
  release may end at another answer of the same objective among ties (8 of
  92 real cases moving from HiGHS 1.12 to 1.16).
  ``Solution.tie_break`` says whether the form changed the answer found.
  Greedy breaks ties (gains within 1e-9 relative) by lowest position. No
  epsilon enters the objective, so reported objectives and bounds are exact.
* **Time limit**: greedy is always run; HiGHS gets the time limit; the
  better answer is returned, with HiGHS's bound and the gap.
"""

from __future__ import annotations

from coverage_planner.plan._covering import LSCP, MCLP
from coverage_planner.plan._location import LocationProblem, ProblemError, ProposalError, Solution
from coverage_planner.plan._median import PCenter, PMedian

__all__ = ["LSCP", "MCLP", "LocationProblem", "PCenter", "PMedian", "ProblemError", "ProposalError", "Solution"]
