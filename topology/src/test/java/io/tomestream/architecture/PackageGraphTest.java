package io.tomestream.architecture;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packages of the engine and the app depend downwards: no cycle, so that a newcomer can read
 * them bottom-up. Dependencies are read from the sources: imports, and fully qualified names in code
 * (not in comments or strings).
 */
class PackageGraphTest {
    private static final List<Path> SOURCES = List.of(Path.of("src/main/java"), Path.of("../demo/src/main/java"), Path.of("../tornado-kernels/src/main/java"),
            Path.of("../tornado-kernels/src/tornado/java"));
    private static final Pattern PACKAGE = Pattern.compile("^package (io\\.tomestream[\\w.]*);", Pattern.MULTILINE);
    /** A reference to a class of ours: lower-case package segments, then a capitalised name. */
    private static final Pattern REFERENCE = Pattern.compile("\\bio\\.tomestream((?:\\.[a-z]\\w*)+)\\.[A-Z]");

    @Test
    void thePackageGraphHasNoCycle() {
        Map<String, Set<String>> graph = graph();
        assertTrue(graph.size() > 10, "found the packages: " + graph.keySet());
        List<String> cycle = findCycle(graph);
        assertEquals(List.of(), cycle, "a package cycle; the graph is " + graph);
    }

    @Test
    void theEngineReadsBottomUp() {
        Map<String, Set<String>> graph = graph();
        List<String> layers = List.of("image", "model", "simd", "merge", "backend", "backend.cpu", "backend.select", "classify");
        for (int i = 0; i < layers.size(); i++) {
            for (int j = i + 1; j < layers.size(); j++) {
                String lower = "io.tomestream." + layers.get(i), upper = "io.tomestream." + layers.get(j);
                assertTrue(!graph.getOrDefault(lower, Set.of()).contains(upper), lower + " must not depend on " + upper);
            }
        }
    }

    private static Map<String, Set<String>> graph() {
        Map<String, Set<String>> graph = new TreeMap<>();
        for (Path root : SOURCES) {
            if (!Files.isDirectory(root)) continue;
            try (Stream<Path> files = Files.walk(root)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                    String text = Files.readString(file);
                    Matcher p = PACKAGE.matcher(text);
                    if (!p.find()) continue;
                    String from = p.group(1);
                    Set<String> to = graph.computeIfAbsent(from, k -> new TreeSet<>());
                    Matcher r = REFERENCE.matcher(code(text.substring(p.end())));
                    while (r.find()) {
                        String target = "io.tomestream" + r.group(1);
                        if (!target.equals(from)) to.add(target);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        graph.values().forEach(targets -> targets.retainAll(graph.keySet())); // static imports name a class, not a package
        return graph;
    }

    /** The source without comments and string literals: a class named in a string or a doc link is no dependency. */
    private static String code(String source) {
        return source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ").replaceAll("\"(?:[^\"\\\\\n]|\\\\.)*\"", "\"\"");
    }

    /** One cycle as the packages along it, or an empty list. */
    private static List<String> findCycle(Map<String, Set<String>> graph) {
        Map<String, Integer> state = new TreeMap<>(); // 1 on the path, 2 done
        for (String start : graph.keySet()) {
            List<String> path = new ArrayList<>();
            List<String> cycle = visit(start, graph, state, path);
            if (cycle != null) return cycle;
        }
        return List.of();
    }

    private static List<String> visit(String node, Map<String, Set<String>> graph, Map<String, Integer> state, List<String> path) {
        Integer s = state.get(node);
        if (s != null && s == 2) return null;
        if (s != null && s == 1) {
            List<String> cycle = new ArrayList<>(path.subList(path.indexOf(node), path.size()));
            cycle.add(node);
            return cycle;
        }
        state.put(node, 1);
        path.add(node);
        for (String next : graph.getOrDefault(node, Set.of())) {
            List<String> cycle = visit(next, graph, state, path);
            if (cycle != null) return cycle;
        }
        path.removeLast();
        state.put(node, 2);
        return null;
    }
}
