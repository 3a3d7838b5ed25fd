/* stats.js: the statistics of what is shown (mean A, share of A > 0.5, the variation per step and R),
 * after the redraw and coalesced while the controls move. Methods of Viewer (mixed in by viewer.js).
 * A clip's are over all its pairs; the camera's over its rolling window (LiveClip.stats).
 */
const StatsMethods = {
  scheduleStats() {
    if (this.statsPending) return;
    this.statsPending = true;
    setTimeout(() => {
      this.statsPending = false;
      if (!this.clip || this.clip.pairs < 1) return;
      const stats = this.computeStats();
      this.statNodes.mean.textContent = stats.meanAttention.toFixed(3);
      this.statNodes.share.textContent = `${(100 * stats.shareAboveHalf).toFixed(1)}%`;
      this.statNodes.r.textContent = formatG(stats.variationMean);
      this.drawVariation(stats);
      window.dispatchEvent(new CustomEvent("motionprompts:stats", { detail: stats }));
    }, 0);
  },

  computeStats() {
    const { slope, shift } = this.state;
    if (this.live) return this.live.stats(slope, shift);
    const clip = this.clip, n = clip.n;
    const key = `${clip.id}:${slope}:${shift}`;
    if (this.lastStats && this.lastStats.key === key) return this.lastStats.value;
    let current = new Float32Array(n), previous = new Float32Array(n);
    let sum = 0, above = 0;
    const variation = [];
    for (let t = 0; t < clip.pairs; t++) {
      attentionInto(current, clip.diff[t], slope, shift);
      let step = 0;
      for (let i = 0; i < n; i++) {
        const a = current[i];
        sum += a;
        if (a > 0.5) above += 1;
        if (t > 0) { const delta = f32(a - previous[i]); step += delta * delta; }
      }
      if (t > 0) variation.push(step / n);
      [current, previous] = [previous, current];
    }
    const count = clip.pairs * n;
    const value = {
      meanAttention: sum / count, shareAboveHalf: above / count, variation,
      variationMean: variation.length ? variation.reduce((a, b) => a + b, 0) / variation.length : 0,
    };
    this.lastStats = { key, value };
    return value;
  },
};
