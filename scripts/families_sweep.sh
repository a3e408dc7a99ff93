#!/usr/bin/env bash
# "Were RNNs all we needed?" at CPU scale: every model family at one parameter budget on
# sine, counting (mixed steps, in range and far outside it) and the built-in text corpus,
# seeds 0-2, two jobs at a time; then one rnnlab-report per task. The README's table came
# from this script (about 20 minutes on a 2-core CPU).
#   bash scripts/families_sweep.sh [outputs/families]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-outputs/families}
models=rnn,lstm,gru,mingru,minlstm,lru,s6,transformer
common=(model=$models model.params=20000 seed=0,1,2 hydra/launcher=joblib hydra.launcher.n_jobs=2
        callbacks.rich_progress_bar=null)

.venv/bin/rnnlab-train -m data=sine trainer.max_epochs=10 "${common[@]}" hydra.sweep.dir="$out/sine"
.venv/bin/rnnlab-train -m data=counting 'data.steps=[1,2,3]' "${common[@]}" hydra.sweep.dir="$out/counting"
.venv/bin/rnnlab-train -m data=text trainer.max_epochs=8 "${common[@]}" hydra.sweep.dir="$out/text"

.venv/bin/rnnlab-report "$out/sine" --metric test/mse
.venv/bin/rnnlab-report "$out/counting" --metric test_extrapolate/exact --mode max
.venv/bin/rnnlab-report "$out/text" --metric test/loss
