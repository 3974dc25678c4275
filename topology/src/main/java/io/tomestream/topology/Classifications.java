package io.tomestream.topology;

import io.tomestream.classify.Prediction;
import io.tomestream.classify.Score;
import io.tomestream.schema.ClassScore;
import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;

import java.time.Instant;
import java.util.List;

/** The Classification record for one classified ImageEvent. */
final class Classifications {
    private Classifications() {
    }

    /** @param budget the schedule this image's batch ran with, which {@code budget=auto} picks per batch */
    static Classification of(ImageEvent event, Prediction p, Engine engine, String budget, long nowMs) {
        List<ClassScore> top = p.top().stream().map(Classifications::score).toList();
        return Classification.newBuilder()
                .setEventId(event.getEventId())
                .setEventTime(event.getEventTime())
                .setProcessingTime(Instant.ofEpochMilli(nowMs))
                .setModelId(engine.modelId())
                .setModelVersion(engine.modelVersion())
                .setTopK(top)
                .setTokensIn(p.tokens()[0])
                .setTokensFinal(p.finalTokens())
                .setReducer(engine.reducer())
                .setTomeSpec(budget)
                .setBackend(engine.backend())
                .setDevice(engine.device())
                .setLatencyMs(p.millis())
                .build();
    }

    private static ClassScore score(Score s) {
        return new ClassScore(s.index(), s.label(), s.score());
    }
}
