"""``shinka.llm`` is not provided: importing it says why.

Scorers that query LLMs as judges (ShinkaEvolve's novelty_generator example)
need ShinkaEvolve's LLM clients, their API keys and the network, none of which
a sandboxed scorer has here.
"""

raise ImportError(
    "shinka.llm (ShinkaEvolve's LLM clients) is not available inside evolve's sandbox: a "
    "scorer that asks an LLM to judge the candidate needs ShinkaEvolve's LLM stack, API keys "
    "and the network; evolve provides only shinka.core.run_shinka_eval to scorers"
)
