#pragma once
// Pieces of the experiments library the subcommands share (defined in
// qbound/experiments/): the verdict policy and how verdicts, case sizes and
// campaign plots are shown.
#include "qbound/experiments/campaign_section.hpp"
#include "qbound/experiments/verdicts.hpp"

namespace qbound::cli {

using experiments::case_size_text;
using experiments::theorem_violated;
using experiments::verdicts_json;
using experiments::write_campaign_plots;

}  // namespace qbound::cli
