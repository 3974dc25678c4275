package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A minimal client of the Confluent Schema Registry REST API (v7) over plain {@link HttpClient},
 * as served by Apicurio at {@code /apis/ccompat/v7}. Used to prove what the registry does without
 * going through Apicurio's own client.
 */
public final class CcompatClient {

    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** An HTTP status and its JSON body (a {@code TextNode} if the body was not JSON). */
    public record Response(int status, JsonNode body) {
        public Response requireOk() {
            if (status / 100 != 2) {
                throw new IllegalStateException("HTTP " + status + ": " + body);
            }
            return this;
        }
    }

    private final String baseUrl;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public CcompatClient(String ccompatUrl) {
        this.baseUrl = ccompatUrl.endsWith("/") ? ccompatUrl.substring(0, ccompatUrl.length() - 1) : ccompatUrl;
    }

    /** POST /subjects/{subject}/versions: registers an Avro schema (or finds it); body {@code {"id": n}}. */
    public Response register(String subject, String avroSchema) {
        return send("POST", "/subjects/" + enc(subject) + "/versions", schemaBody(avroSchema));
    }

    /** Registers and returns the id, failing on any non-2xx. */
    public int registerOrFail(String subject, String avroSchema) {
        return register(subject, avroSchema).requireOk().body().get("id").asInt();
    }

    /** PUT /config/{subject} with {@code {"compatibility": level}}. */
    public Response setCompatibility(String subject, String level) {
        ObjectNode body = JSON.createObjectNode().put("compatibility", level);
        return send("PUT", "/config/" + enc(subject), body.toString());
    }

    /** POST /compatibility/subjects/{subject}/versions/latest; body {@code {"is_compatible": b}}. */
    public Response checkCompatibility(String subject, String avroSchema) {
        return send("POST", "/compatibility/subjects/" + enc(subject) + "/versions/latest", schemaBody(avroSchema));
    }

    /** GET /schemas/ids/{id}; body {@code {"schema": "..."}}. */
    public Response schemaById(long id) {
        return send("GET", "/schemas/ids/" + id, null);
    }

    /** GET /subjects/{subject}/versions; body: array of version numbers. */
    public Response versions(String subject) {
        return send("GET", "/subjects/" + enc(subject) + "/versions", null);
    }

    /** GET /subjects/{subject}/versions/{version} ("latest" allowed); body has subject, version, id, schema. */
    public Response version(String subject, String version) {
        return send("GET", "/subjects/" + enc(subject) + "/versions/" + version, null);
    }

    private static String schemaBody(String avroSchema) {
        return JSON.createObjectNode().put("schema", avroSchema).toString();
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private Response send(String method, String path, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(Duration.ofSeconds(30))
                .header("Accept", CONTENT_TYPE + ", application/json");
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", CONTENT_TYPE)
                    .method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        }
        try {
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json;
            try {
                json = response.body().isBlank() ? JSON.nullNode() : JSON.readTree(response.body());
            } catch (IOException notJson) {
                json = JSON.getNodeFactory().textNode(response.body());
            }
            return new Response(response.statusCode(), json);
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + baseUrl + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + method + " " + path, e);
        }
    }
}
