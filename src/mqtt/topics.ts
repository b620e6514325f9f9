// The station's MQTT topics, all under PREFIX/STATION/ (docs/mqtt.md).
export interface StationTopics {
  status: string;
  verdict: string;
  trigger: string;
  /** MQTT 5 carries the part id in a user property; 3.1.1 has only the topic to carry it. */
  heatmap: (partId: string, protocolVersion: 4 | 5) => string;
}

export function stationTopics(prefix: string, station: string, triggerTopic?: string): StationTopics {
  const base = `${prefix}/${station}`;
  return {
    status: `${base}/status`,
    verdict: `${base}/verdict`,
    trigger: triggerTopic ?? `${base}/trigger`,
    // A part id may hold / + #: percent-encoded it stays one topic level and never a wildcard.
    heatmap: (partId, protocolVersion) => (protocolVersion === 5 ? `${base}/heatmap` : `${base}/heatmap/${encodeURIComponent(partId)}`),
  };
}
