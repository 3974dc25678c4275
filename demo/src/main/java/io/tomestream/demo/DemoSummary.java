package io.tomestream.demo;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tomestream.demo.DemoEvents.Planned;
import io.tomestream.metrics.Percentile;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** The demo's summary on stdout: a few aligned lines, then one JSON object for scripts. */
final class DemoSummary {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The summary's last line: accuracy and the percentiles are null when unknown. */
    record Summary(long produced, long classified, @JsonProperty("dlq") long deadLettered,
                   @JsonProperty("events_per_s") double eventsPerSecond, @JsonProperty("p50_ms") Long p50Ms,
                   @JsonProperty("p99_ms") Long p99Ms, Double accuracy) {
    }

    private DemoSummary() {
    }

    /**
     * @param model      the model's id, architecture, budget and device, as the first line shows them
     * @param autoBudget whether the budget was auto, so that the schedules used are worth a line
     */
    static void print(PrintStream out, String model, boolean autoBudget, String data, int partitions, double rate,
                      List<Planned> plan, Traffic.Results r) {
        Long p50 = Percentile.nearestRank(r.latenciesMs(), 0.50), p99 = Percentile.nearestRank(r.latenciesMs(), 0.99);
        Double accuracy = r.labelled() > 0 ? round((double) r.correct() / r.labelled(), 4) : null;
        double eventsPerSecond = r.seconds() > 0 ? round((r.classified() + r.deadLettered()) / r.seconds(), 1) : 0;
        int bad = (int) plan.stream().filter(p -> p.bad() != null).count();
        out.printf(Locale.ROOT, "model         %s%n", model);
        if (autoBudget) {
            StringBuilder used = new StringBuilder();
            r.byBudget().forEach((k, v) -> used.append(used.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
            out.printf(Locale.ROOT, "budget        auto, schedules used (images): %s%n", used);
        }
        out.printf(Locale.ROOT, "data          %s: %d images + %d bad events, %d partitions, exactly_once_v2%n",
                data, plan.size() - bad, bad, partitions);
        out.printf(Locale.ROOT, "produced      %d%n", r.produced());
        out.printf(Locale.ROOT, "classified    %d%s%n", r.classified(), accuracy == null ? " (labels unknown: no accuracy)"
                : String.format(Locale.ROOT, ", top-1 accuracy %.4f (%d of %d)", accuracy, r.correct(), r.labelled()));
        StringBuilder reasons = new StringBuilder();
        r.dlqByReason().forEach((k, v) -> reasons.append(reasons.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
        out.printf(Locale.ROOT, "dead letters  %d%s%s%n", r.deadLettered(), reasons.isEmpty() ? "" : ": " + reasons,
                r.unexpectedDlq() > 0 ? " (" + r.unexpectedDlq() + " not among the deliberately bad events)" : "");
        out.printf(Locale.ROOT, "throughput    %.1f events/s (first send to last result, %.2f s)%n", eventsPerSecond, r.seconds());
        out.printf(Locale.ROOT, "latency       p50 %s ms, p99 %s ms (event time to classification processing time%s)%n",
                p50, p99, rate > 0 ? "" : "; all events were sent at once, so this includes queueing");
        if (r.duplicates() > 0 || r.missing() > 0) {
            out.printf(Locale.ROOT, "INCOMPLETE    %d events without a result, %d duplicate results%n", r.missing(), r.duplicates());
        }
        try {
            out.println(JSON.writeValueAsString(new Summary(r.produced(), r.classified(), r.deadLettered(), eventsPerSecond, p50, p99, accuracy)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the summary as JSON", e);
        }
        out.flush();
    }

    private static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }
}
